//! Hostile clients against a real server with a write token (issue #16's review findings):
//! unauthenticated writes, a public address without a token, paths outside the image root,
//! replacing a trained item, counter overflow, oversized requests, concurrent increments, and a
//! model without a gate surviving a restart.

use fuserec_serve::client::{get, post, post_as, request_as};
use fuserec_serve::{Limits, ServeConfig, Server, Token};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use std::path::Path;

mod common;

const MODELS: &str = r#"
[[model]]
kind = "two-tower"
fusion = "additive"
epochs = 2
[[model]]
kind = "two-tower"
fusion = "content-only"
epochs = 2
[[model]]
kind = "two-tower"
fusion = "multi-view"
epochs = 2
[[model]]
kind = "two-tower"
fusion = "concat"
epochs = 2
[[model]]
kind = "two-tower"
fusion = "id-only"
epochs = 2
"#;

const TOKEN: &str = "test-token-0123456789abcdef";

/// Field names the routes know, and one they do not: bodies built from these reach deep into
/// the decoding (right names, wrong types; right types, hostile values).
const FIELDS: &[&str] = &[
    "id",
    "title",
    "text",
    "image_base64",
    "image_path",
    "user",
    "items",
    "vector",
    "k",
    "exclude_seen",
    "exposures",
    "clicks",
    "events",
    "item",
    "clicked",
    "zzz",
];

/// Arbitrary JSON: nulls, booleans, extreme integers and floats, short strings (ids of real
/// catalogue items among them), nested arrays and objects keyed by [`FIELDS`].
fn json_value(ids: Vec<String>) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![any::<i64>(), Just(i64::MAX), Just(-1i64), Just(0i64)].prop_map(|v| json!(v)),
        any::<u64>().prop_map(|v| json!(v)),
        any::<f64>().prop_filter("JSON numbers are finite", |v| v.is_finite()).prop_map(|v| json!(v)),
        proptest::collection::vec(any::<char>(), 0..12).prop_map(|c| Value::String(c.into_iter().collect())),
        proptest::sample::select(ids).prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(FIELDS), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

fn config(dir: &Path, model: usize, token: Option<&str>, addr: &str) -> ServeConfig {
    let mut c = common::config(dir, model);
    c.token = token.map(|t| Token::new(t).unwrap());
    c.addr = addr.into();
    c
}

#[test]
fn hostile_requests_are_refused_and_nothing_is_lost() {
    let (dir, _exp, ds) = common::train("fuserec-hostile", "serve-hostile", &common::small_world("serve-hostile", MODELS));

    // A public address needs a token.
    let e = Server::start(config(&dir, 0, None, "0.0.0.0:0")).err().expect("refused without a token").to_string();
    assert!(e.contains("without a write token"), "{e}");

    let server = Server::start(config(&dir, 0, Some(TOKEN), "127.0.0.1:0")).unwrap();
    let addr = server.addr;

    // Every route's decoding against arbitrary JSON and raw bytes (with the token, so writes get
    // past authentication): never a 5xx, and the server answers afterwards.
    let ids: Vec<String> = (0..20).map(|i| ds.items.raw(i).to_string()).chain((0..5).map(|u| ds.users.raw(u).to_string())).collect();
    let mut runner = TestRunner::new(Config { cases: 200, failure_persistence: None, ..Config::default() });
    for route in ["/items", "/recall", "/stats", "/events"] {
        let bodies = prop_oneof![
            json_value(ids.clone()).prop_map(|v| v.to_string()),
            proptest::collection::vec(any::<u8>(), 0..64).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        ];
        runner
            .run(&bodies, |body| {
                let r = request_as(addr, "POST", route, Some(&body), Some(TOKEN)).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(r.status < 500, "{route} {body:.200} → {} {}", r.status, r.body);
                Ok(())
            })
            .unwrap();
    }
    let r = request_as(addr, "GET", &format!("/items/{}", "%00%2F..%2F..%2Fetc%2Fpasswd"), None, None).unwrap();
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(get(addr, "/health").unwrap().status, 200);

    let item = json!({ "id": "new-a", "title": ds.items_meta[3].title });
    // Writes without the token, or with a wrong one, are 401 and change nothing.
    let r = post(addr, "/items", &item).unwrap();
    assert_eq!(r.status, 401, "{}", r.body);
    let r = post_as(addr, "/items", &item, "test-token-0123456789abcdeX").unwrap();
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(get(addr, "/items/new-a").unwrap().status, 404);
    let r = post_as(addr, "/items", &item, TOKEN).unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(post(addr, "/stats", &json!({ "id": "new-a", "exposures": 1 })).unwrap().status, 401);
    assert_eq!(post(addr, "/events", &json!({ "events": [{ "item": "new-a", "clicked": true }] })).unwrap().status, 401);
    // Reads stay open.
    assert_eq!(post(addr, "/recall", &json!({ "items": ["new-a"], "k": 5, "exclude_seen": false })).unwrap().status, 200);
    assert_eq!(get(addr, "/items/new-a").unwrap().status, 200);

    // Paths: none without an image root, and the reply reveals nothing about the file system.
    for p in ["/dev/zero", "/etc/passwd", "../../../../etc/passwd"] {
        let r = post_as(addr, "/items", &json!({ "id": "evil", "title": "t", "image_path": p }), TOKEN).unwrap();
        assert_eq!(r.status, 400, "{p}: {}", r.body);
        assert!(r.body.contains("no image root") && !r.body.contains("No such file"), "{p}: {}", r.body);
    }

    // A trained catalogue item cannot be replaced (its id row would be dropped).
    let trained = (0..ds.n_items() as u32)
        .map(|i| ds.items.raw(i).to_string())
        .find(|id| get(addr, &format!("/items/{id}")).unwrap().json()["catalogue"] == true);
    let trained = trained.expect("some catalogue item is trained");
    let r = post_as(addr, "/items", &json!({ "id": trained, "title": "replaced" }), TOKEN).unwrap();
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(get(addr, &format!("/items/{trained}")).unwrap().json()["catalogue"], true);

    // Counter overflow: refused, counts unchanged, and the server keeps answering.
    let big = json!({ "id": "new-a", "exposures": u64::MAX, "clicks": 0 });
    let r = post_as(addr, "/stats", &big, TOKEN).unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    let r = post_as(addr, "/stats", &json!({ "id": "new-a", "exposures": 1u64 << 52 }), TOKEN).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post_as(addr, "/stats", &json!({ "id": "new-a", "exposures": 1u64 << 52 }), TOKEN).unwrap();
    assert_eq!(r.status, 400, "2^53 is the ceiling: {}", r.body);
    assert_eq!(get(addr, "/items/new-a").unwrap().json()["exposures"].as_u64(), Some(1 << 52));
    assert_eq!(post(addr, "/recall", &json!({ "items": ["new-a"], "k": 5 })).unwrap().status, 200);

    // Too many items in one recall: refused before any store read.
    let many: Vec<String> = (0..Limits::default().max_items_per_request + 1).map(|k| format!("x{k}")).collect();
    let r = post(addr, "/recall", &json!({ "items": many, "k": 5 })).unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("the limit is"), "{}", r.body);

    // 8 clients × 1,000 increments: the exact total, no request lost or refused.
    let r = post_as(addr, "/items", &json!({ "id": "counted", "title": ds.items_meta[4].title }), TOKEN).unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    let clients: Vec<_> = (0..8)
        .map(|c| {
            std::thread::spawn(move || {
                let mut failed = 0;
                for k in 0..1000 {
                    let body = json!({ "id": "counted", "exposures": 1, "clicks": ((k + c) % 4 == 0) as u64 });
                    let r = request_as(addr, "POST", "/stats", Some(&body.to_string()), Some(TOKEN));
                    failed += r.map_or(1, |r| (r.status != 200) as usize);
                }
                failed
            })
        })
        .collect();
    let failed: usize = clients.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(failed, 0);
    let c = get(addr, "/items/counted").unwrap().json();
    assert_eq!((c["exposures"].as_u64(), c["clicks"].as_u64(), c["version"].as_u64()), (Some(8000), Some(2000), Some(8001)), "{c}");
    server.stop();

    // A model without a gate (content-only): its items store gate NaN, and a restart reads them.
    let server = Server::start(config(&dir, 1, Some(TOKEN), "127.0.0.1:0")).unwrap();
    let r = post_as(server.addr, "/items", &json!({ "id": "plain", "title": ds.items_meta[2].title }), TOKEN).unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    server.stop();
    let server = Server::start(config(&dir, 1, Some(TOKEN), "127.0.0.1:0")).unwrap();
    let r = get(server.addr, "/items/plain").unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["gate"].is_null(), "{}", r.body);
    let r = post(server.addr, "/recall", &json!({ "items": ["plain"], "k": 5, "exclude_seen": false })).unwrap();
    assert!(r.body.contains("\"plain\""), "{}", r.body);
    server.stop();

    // Serve = evaluate, every fusion: the catalogue as stored is the vectors the experiment
    // evaluated, bit for bit.
    for model in 0..5 {
        // On a fresh store: the ones above took fuzzed statistics and events.
        let mut c = config(&dir, model, Some(TOKEN), "127.0.0.1:0");
        c.store = dir.join(format!("fresh{model}/items.redb")).into();
        let server = Server::start(c).unwrap();
        common::assert_serves_what_was_evaluated(&server, &dir.join(format!("ck/model{model}-seed1.fuserec")));
        server.stop();
    }

    // A store from another model (another vector width), or a file that is no store at all, is
    // a clear error at start.
    let mut foreign = config(&dir, 1, Some(TOKEN), "127.0.0.1:0");
    foreign.store = dir.join("store0/items.redb").into();
    let e = Server::start(foreign).err().expect("a foreign store is refused").to_string();
    assert!(e.contains("another model"), "{e}");
    let mut junk = config(&dir, 0, Some(TOKEN), "127.0.0.1:0");
    junk.store = dir.join("junk.redb").into();
    std::fs::write(dir.join("junk.redb"), b"this is not a redb file at all, just text").unwrap();
    let e = Server::start(junk).err().expect("a corrupt store is refused").to_string();
    assert!(e.contains("junk.redb"), "{e}");

    // The artifact is checked before anything is built from it: a changed byte, another format,
    // a folder that is no artifact are clear errors naming what is wrong.
    let copy = |tag: &str| {
        let to = dir.join(format!("artifact-{tag}"));
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(dir.join("ck/model0-seed1.fuserec")).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
        }
        to
    };
    let start_on = |artifact: &std::path::Path| {
        let mut c = config(&dir, 0, Some(TOKEN), "127.0.0.1:0");
        c.source.artifact = artifact.to_path_buf();
        c.store = artifact.join("items.redb").into();
        Server::start(c).err().expect("a bad artifact is refused").to_string()
    };
    let flipped = copy("flipped");
    let mut bytes = std::fs::read(flipped.join("vectors.safetensors")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(flipped.join("vectors.safetensors"), bytes).unwrap();
    let e = start_on(&flipped);
    assert!(e.contains("vectors.safetensors is corrupt"), "{e}");
    let future = copy("future");
    let m = std::fs::read_to_string(future.join("manifest.json")).unwrap().replacen(
        &format!("\"format\":{}", fuserec::artifact::FORMAT),
        "\"format\":99",
        1,
    );
    std::fs::write(future.join("manifest.json"), m).unwrap();
    let e = start_on(&future);
    assert!(e.contains("artifact format 99"), "{e}");
    let e = start_on(&dir.join("ck"));
    assert!(e.contains("not a trained artifact"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
