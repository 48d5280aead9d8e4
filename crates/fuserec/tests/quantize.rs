//! Quantising a feature-store entry: codes in item order, masked items without a code.

use fuserec::ItemFeatures;
use fuserec::data::{LoadOptions, load_dir};
use fuserec::encoders::{HashedNgramText, TextEncoder};
use fuserec::features::FeatureStore;
use fuserec::quant::{NO_CODE, load};
use fuserec::quantize::{QuantMethod, quantize_entry};

#[test]
fn codes_are_written_beside_the_entry() {
    let d = std::env::temp_dir().join(format!("fuserec-qz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("data")).unwrap();
    let mut items = String::from("item\ttitle\n");
    for i in 0..60 {
        items.push_str(&format!("i{i}\t{}\n", if i == 7 { String::new() } else { format!("word{} common{}", i % 9, i % 4) }));
    }
    std::fs::write(d.join("data/items.tsv"), items).unwrap();
    std::fs::write(d.join("data/interactions.tsv"), "user\titem\ttimestamp\tlabel\nu\ti0\t1\t1\n").unwrap();
    let ds = load_dir(&d.join("data"), &LoadOptions::default()).unwrap();
    let store = FeatureStore::new(d.join("store"));
    let t = HashedNgramText { dim: 64, ..Default::default() };
    ItemFeatures::encode_with_store(&ds, Some(&t), None, Some(&store)).unwrap();
    let (entry, _) = store.paths(&ds, "text", &t.name());
    let out = quantize_entry(&entry, &QuantMethod::Tree { branching: 4, depth: 2 }, 1, 10).unwrap();
    let m = &out.manifest;
    assert_eq!((m.items.len(), m.items_without_code), (60, 1), "item i7 has an empty title");
    assert_eq!(m.codes_per_level[0], 4);
    let bytes = std::fs::read(&out.codes_path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let codes = st.tensor("codes").unwrap();
    assert_eq!(codes.shape(), [60, 2]);
    let v: Vec<u32> = codes.data().chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    assert_eq!(&v[14..16], &[NO_CODE, NO_CODE]);
    assert!(v.iter().enumerate().filter(|(i, _)| i / 2 != 7).all(|(_, &c)| c != NO_CODE));
    // The saved quantizer encodes new vectors the same way the fit did.
    let q = load(&out.quantizer_path).unwrap();
    assert_eq!(q.name(), "tree(b=4,d=2)");
    let e = quantize_entry(&d.join("store/none.safetensors"), &QuantMethod::Kmeans { k: 2 }, 1, 5).err().unwrap().to_string();
    assert!(e.contains("none"), "{e}");
}
