//! Topic vocabularies for synthetic titles and tags.

pub const TOPICS: &[(&str, [&str; 10])] = &[
    ("space", ["galaxy", "rocket", "orbit", "nebula", "comet", "astronaut", "planet", "lunar", "stellar", "cosmos"]),
    ("ocean", ["tide", "coral", "harbor", "sailor", "reef", "wave", "anchor", "lagoon", "whale", "current"]),
    ("forest", ["pine", "moss", "fern", "grove", "timber", "acorn", "owl", "canopy", "birch", "trail"]),
    ("city", ["street", "tower", "subway", "neon", "avenue", "skyline", "taxi", "plaza", "loft", "metro"]),
    ("kitchen", ["spice", "oven", "recipe", "bread", "pasta", "ladle", "butter", "garlic", "broth", "pastry"]),
    ("music", ["guitar", "chord", "melody", "drum", "rhythm", "ballad", "tempo", "choir", "violin", "encore"]),
    ("sport", ["goal", "sprint", "league", "racket", "stadium", "coach", "medal", "relay", "tackle", "marathon"]),
    ("desert", ["dune", "cactus", "mirage", "oasis", "camel", "sandstone", "canyon", "scorpion", "nomad", "drought"]),
    ("winter", ["snow", "frost", "glacier", "sled", "blizzard", "icicle", "mitten", "sleet", "igloo", "polar"]),
    ("garden", ["rose", "tulip", "petal", "bloom", "orchid", "hedge", "seedling", "lily", "meadow", "daisy"]),
    ("machine", ["gear", "piston", "circuit", "engine", "robot", "turbine", "lever", "motor", "bolt", "sensor"]),
    ("history", ["empire", "castle", "knight", "scroll", "dynasty", "relic", "throne", "pharaoh", "fortress", "legend"]),
];

pub const FILLER: &[&str] = &[
    "the", "of", "a", "new", "great", "little", "last", "secret", "golden", "silent", "wild", "lost",
    "bright", "hidden", "classic", "modern", "deluxe", "simple", "tiny", "grand", "night", "morning",
    "story", "edition", "collection", "set", "guide", "journey", "home", "dream",
];
