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
    "the",
    "of",
    "a",
    "new",
    "great",
    "little",
    "last",
    "secret",
    "golden",
    "silent",
    "wild",
    "lost",
    "bright",
    "hidden",
    "classic",
    "modern",
    "deluxe",
    "simple",
    "tiny",
    "grand",
    "night",
    "morning",
    "story",
    "edition",
    "collection",
    "set",
    "guide",
    "journey",
    "home",
    "dream",
];

/// How searchers say it: per topic (same order as [`TOPICS`]), words that never occur in titles.
/// Queries are written in these, so matching a query to an item takes learning what a query
/// word means (the semantic gap SCL is for), not word overlap.
pub const QUERY_WORDS: &[[&str; 6]] = &[
    ["astronomy", "spaceship", "universe", "alien", "satellite", "telescope"],
    ["seaside", "marine", "fishing", "underwater", "diving", "nautical"],
    ["woodland", "wilderness", "hiking", "camping", "lumber", "jungle"],
    ["urban", "downtown", "nightlife", "commute", "apartment", "traffic"],
    ["cooking", "baking", "culinary", "chef", "cuisine", "kitchenware"],
    ["concert", "band", "acoustic", "orchestra", "singer", "playlist"],
    ["athletic", "fitness", "football", "tennis", "trophy", "workout"],
    ["arid", "sahara", "dryland", "wasteland", "badlands", "heatwave"],
    ["icy", "skiing", "snowboard", "arctic", "freezing", "chilly"],
    ["gardening", "flowers", "floral", "botanical", "planting", "blossom"],
    ["mechanical", "robotics", "engineering", "industrial", "automation", "gadget"],
    ["medieval", "ancient", "heritage", "archaeology", "historical", "kingdom"],
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_words_never_occur_in_titles() {
        assert_eq!(QUERY_WORDS.len(), TOPICS.len());
        for q in QUERY_WORDS.iter().flatten() {
            assert!(!TOPICS.iter().any(|t| t.1.contains(q) || t.0 == *q) && !FILLER.contains(q), "`{q}` is also a title word");
        }
    }
}
