//! Loader behaviour on good and malformed input: every error names the file and line, and
//! everything dropped or repaired is counted.

mod common;
use common::{scratch, write};
use fuserec_data::{ImageProblem, LoadOptions, SplitConfig, UnknownIdPolicy, load_dir, movielens, open_image, split};

const ITEMS: &str = "item\ttitle\ttags\n a\tRed Rocket\tspace|toy\nb\tBlue Sea\tocean\nc\t\t\n";

fn opts(p: UnknownIdPolicy) -> LoadOptions {
    LoadOptions { unknown_items: p }
}

#[test]
fn loads_items_interactions_and_report() {
    let d = scratch("ok");
    write(&d, "items.tsv", ITEMS);
    write(&d, "interactions.tsv", "user\titem\ttimestamp\tlabel\nu1\ta\t10\t1\nu1\tb\t5\t0\nu2\ta\t7\t1\nu2\ta\t7\t1\n");
    let ds = load_dir(&d, &LoadOptions::default()).unwrap();
    assert_eq!((ds.n_users(), ds.n_items(), ds.interactions.len()), (2, 3, 3));
    assert_eq!(ds.report.duplicate_interactions, 1);
    assert_eq!(ds.report.empty_titles, 1);
    assert_eq!(ds.items_meta[0].tags, ["space", "toy"]);
    assert_eq!(ds.items_meta[0].text(), "Red Rocket space toy");
    // Sorted by time.
    let ts: Vec<i64> = ds.interactions.iter().map(|x| x.ts).collect();
    assert_eq!(ts, [5, 7, 10]);
    assert_eq!(ds.n_positives(), 2);
}

#[test]
fn a_repeated_row_keeps_the_highest_label_whatever_the_order() {
    let d = scratch("dups");
    write(&d, "items.tsv", ITEMS);
    for body in ["u1\ta\t7\t0\nu1\ta\t7\t1\n", "u1\ta\t7\t1\nu1\ta\t7\t0\n"] {
        write(&d, "interactions.tsv", &format!("user\titem\ttimestamp\tlabel\n{body}u2\tb\t1\t0\n"));
        let ds = load_dir(&d, &LoadOptions::default()).unwrap();
        assert_eq!(ds.interactions.len(), 2);
        assert_eq!((ds.interactions[1].ts, ds.interactions[1].label), (7, 1.0));
        assert_eq!(ds.report.duplicate_interactions, 1);
    }
}

#[test]
fn csv_with_quoted_titles() {
    let d = scratch("csv");
    write(&d, "items.csv", "item,title,description\n1,\"Crouching Tiger, Hidden Dragon\",Wuxia epic\n");
    write(&d, "interactions.csv", "user,item,timestamp,label,weight\n9,1,100,1,2.5\n");
    let ds = load_dir(&d, &LoadOptions::default()).unwrap();
    assert_eq!(ds.items_meta[0].title, "Crouching Tiger, Hidden Dragon");
    assert_eq!(ds.items_meta[0].text(), "Crouching Tiger, Hidden Dragon Wuxia epic");
    assert_eq!(ds.interactions[0].weight, 2.5);
}

#[test]
fn truncated_line_is_an_error_with_file_and_line() {
    let d = scratch("trunc");
    write(&d, "items.tsv", ITEMS);
    write(&d, "interactions.tsv", "user\titem\ttimestamp\tlabel\nu1\ta\t10\t1\nu1\tb\t5\n");
    let e = load_dir(&d, &LoadOptions::default()).unwrap_err().to_string();
    assert!(e.contains("interactions.tsv:3:") && e.contains("expected 4 fields"), "{e}");
}

#[test]
fn non_numeric_timestamp_and_nan_label_are_errors() {
    let d = scratch("ts");
    write(&d, "items.tsv", ITEMS);
    write(&d, "interactions.tsv", "user\titem\ttimestamp\tlabel\nu1\ta\tyesterday\t1\n");
    let e = load_dir(&d, &LoadOptions::default()).unwrap_err().to_string();
    assert!(e.contains("interactions.tsv:2:") && e.contains("`timestamp`") && e.contains("yesterday"), "{e}");
    write(&d, "interactions.tsv", "user\titem\ttimestamp\tlabel\nu1\ta\t1\t1\nu1\tb\t2\tNaN\n");
    let e = load_dir(&d, &LoadOptions::default()).unwrap_err().to_string();
    assert!(e.contains("interactions.tsv:3:") && e.contains("`label`"), "{e}");
    write(&d, "interactions.tsv", "user\titem\ttimestamp\tlabel\nu1\ta\t1\t3\n");
    let e = load_dir(&d, &LoadOptions::default()).unwrap_err().to_string();
    assert!(e.contains("outside [0, 1]"), "{e}");
}

#[test]
fn unknown_items_follow_the_policy() {
    let d = scratch("unknown");
    write(&d, "items.tsv", ITEMS);
    write(&d, "interactions.tsv", "user\titem\ttimestamp\tlabel\nu1\ta\t1\t1\nu1\tzz\t2\t1\nu2\tzz\t3\t0\n");
    let e = load_dir(&d, &opts(UnknownIdPolicy::Error)).unwrap_err().to_string();
    assert!(e.contains("interactions.tsv:3:") && e.contains("unknown item id `zz`"), "{e}");
    let ds = load_dir(&d, &opts(UnknownIdPolicy::Skip)).unwrap();
    assert_eq!((ds.interactions.len(), ds.report.unknown_item_rows), (1, 2));
    assert!(ds.report.unknown_item_examples[0].starts_with("zz ("));
    let ds = load_dir(&d, &opts(UnknownIdPolicy::Add)).unwrap();
    assert_eq!((ds.interactions.len(), ds.n_items(), ds.report.items_added_from_interactions), (3, 4, 1));
}

#[test]
fn missing_header_column_and_missing_dir() {
    let d = scratch("hdr");
    write(&d, "interactions.tsv", "user\tthing\ttimestamp\n1\t2\t3\n");
    let e = load_dir(&d, &LoadOptions::default()).unwrap_err().to_string();
    assert!(e.contains("missing column `item`"), "{e}");
    let e = load_dir(&d.join("nope"), &LoadOptions::default()).unwrap_err().to_string();
    assert!(e.contains("nope"), "{e}");
    let empty = scratch("empty");
    assert!(load_dir(&empty, &LoadOptions::default()).unwrap_err().to_string().contains("not a fuserec dataset"));
}

#[test]
fn missing_and_corrupt_images_are_reported_not_panics() {
    let d = scratch("img");
    std::fs::create_dir_all(d.join("images")).unwrap();
    // A JPEG header followed by garbage, and a truncated PNG.
    std::fs::write(d.join("images/a.jpg"), [0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1, 2, 3]).unwrap();
    std::fs::write(d.join("images/b.png"), &b"\x89PNG\r\n\x1a\n\0\0"[..]).unwrap();
    write(&d, "items.tsv", "item\ttitle\na\tx\nb\ty\nc\tz\n");
    write(&d, "interactions.tsv", "user\titem\ttimestamp\tlabel\nu\ta\t1\t1\n");
    let ds = load_dir(&d, &LoadOptions::default()).unwrap();
    assert_eq!(ds.report.items_without_image, 1, "c has no file in images/");
    for i in 0..2 {
        match open_image(ds.items_meta[i].image.as_deref()) {
            Err(ImageProblem::Corrupt(m)) => assert!(m.contains("cannot decode"), "{m}"),
            other => panic!("expected corrupt, got {:?}", other.map(|_| ())),
        }
    }
    assert_eq!(open_image(None).unwrap_err(), ImageProblem::NoPath);
    let gone = d.join("images/gone.png");
    assert_eq!(open_image(Some(&gone)).unwrap_err(), ImageProblem::Missing(gone.display().to_string()));
}

#[test]
fn pre_split_files_are_used_as_given() {
    let d = scratch("given");
    write(&d, "items.tsv", "item\ttitle\na\tx\nb\ty\nc\tz\n");
    let head = "user\titem\ttimestamp\tlabel\n";
    write(&d, "train.tsv", &format!("{head}u1\ta\t1\t1\nu2\tb\t2\t1\n"));
    write(&d, "test_warm.tsv", &format!("{head}u1\tb\t5\t1\n"));
    write(&d, "test_cold.tsv", &format!("{head}u2\tc\t6\t1\n"));
    let ds = load_dir(&d, &LoadOptions::default()).unwrap();
    let s = split(&ds, &SplitConfig::Given, 1).unwrap();
    assert_eq!((s.train.len(), s.val.len(), s.test_warm.len(), s.test_cold.len()), (2, 0, 1, 1));
    assert_eq!(s.cold, [false, false, true]);
    // With a test_cold file the cold items are exactly its items: a warm test item without
    // training rows (d) stays a WARM candidate, it is not cold.
    let d2 = scratch("given-warm-untrained");
    write(&d2, "items.tsv", "item\ttitle\na\tx\nb\ty\nc\tz\nd\tw\n");
    write(&d2, "train.tsv", &format!("{head}u1\ta\t1\t1\nu2\tb\t2\t1\n"));
    write(&d2, "test_warm.tsv", &format!("{head}u1\td\t5\t1\n"));
    write(&d2, "test_cold.tsv", &format!("{head}u2\tc\t6\t1\n"));
    let ds2 = load_dir(&d2, &LoadOptions::default()).unwrap();
    let s2 = split(&ds2, &SplitConfig::Given, 1).unwrap();
    let idx = |raw: &str| (0..ds2.n_items() as u32).find(|&i| ds2.items.raw(i) == raw).unwrap() as usize;
    assert!(!s2.cold[idx("d")], "a test_warm item is not cold because train lacks it");
    assert!(s2.cold[idx("c")]);
    // An item in both test files is a broken split.
    write(&d2, "test_warm.tsv", &format!("{head}u1\tc\t5\t1\n"));
    let ds3 = load_dir(&d2, &LoadOptions::default()).unwrap();
    assert!(split(&ds3, &SplitConfig::Given, 1).unwrap_err().to_string().contains("`c`"));
    // With a single test file, cold items are the test items never seen in train.
    std::fs::remove_file(d.join("test_warm.tsv")).unwrap();
    std::fs::remove_file(d.join("test_cold.tsv")).unwrap();
    write(&d, "test.tsv", &format!("{head}u1\tb\t5\t1\nu2\tc\t6\t1\n"));
    let ds = load_dir(&d, &LoadOptions::default()).unwrap();
    let s = split(&ds, &SplitConfig::Given, 1).unwrap();
    assert_eq!((s.test_warm.len(), s.test_cold.len()), (1, 1));
    assert_eq!(ds.items.raw(s.test_cold[0].item.0), "c");
    // Asking for a given split on a dataset without one is a config error.
    let plain = scratch("plain");
    write(&plain, "interactions.tsv", head);
    let ds = load_dir(&plain, &LoadOptions::default()).unwrap();
    assert!(split(&ds, &SplitConfig::Given, 1).is_err());
}

#[test]
fn recbole_atomic_files() {
    let d = scratch("atomic");
    write(
        &d,
        "toy.item",
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n1\tToy Story\t1995\tAnimation Children's Comedy\n2\tHeat\t1995\tAction\n",
    );
    write(
        &d,
        "toy.inter",
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n7\t1\t5\t881250949\n7\t2\t3\t881250950\n8\t2\t4.0\t881250951\n",
    );
    std::fs::create_dir_all(d.join("posters")).unwrap();
    std::fs::write(d.join("posters/2.jpg"), b"").unwrap();
    let ds = movielens::load_atomic(&d, "toy", Some(&d.join("posters"))).unwrap();
    assert_eq!((ds.n_users(), ds.n_items(), ds.n_positives()), (2, 2, 2));
    assert_eq!(ds.items_meta[0].tags, ["Animation", "Children's", "Comedy"]);
    assert_eq!(ds.items_meta[0].image, None);
    assert!(ds.items_meta[1].image.is_some());
    assert_eq!(ds.interactions.iter().map(|x| x.label).collect::<Vec<_>>(), [1.0, 0.0, 1.0]);
    let e = movielens::load_atomic(&d, "absent", None).unwrap_err().to_string();
    assert!(e.contains("cargo xtask assets"), "{e}");
}
