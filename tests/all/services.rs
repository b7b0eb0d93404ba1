//! Typed calls between deployments through the host, and every exported
//! interface over the JSON gateway.

use crate::harness::{ALPHA, BETA, Wharf, cli};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use wharf_test_artifacts as guests;

const KINDS: &str = "wharf-test:kinds/values@0.1.0";

fn calls(extra: Value) -> Value {
    let mut spec = json!({ "grants": { "calls": [KINDS] } });
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    spec
}

async fn rpc(wharf: &Wharf, token: Option<&str>, path: &str, body: Value) -> (u16, Value) {
    let mut r = wharf
        .http
        .post(format!("{}/rpc/{path}", wharf.base))
        .json(&body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn typed_calls_carry_every_kind_of_value() {
    let wharf = Wharf::start().await;
    wharf.deploy(ALPHA, "kinds", guests::KINDS_V1, None).await;
    wharf
        .deploy(BETA, "caller", guests::KINDS_CALLER, Some(calls(json!({}))))
        .await;
    assert_eq!(
        wharf.get("/caller/roundtrip").await,
        (200, "ok\n".to_string())
    );
    assert_eq!(wharf.get("/caller/add?a=40&b=2").await.1, "42");
    assert_eq!(wharf.get("/caller/version").await.1, "v1");
    let view = wharf.show(BETA, "caller").await;
    assert_eq!(view["imports"], json!([KINDS]));
    let provider = wharf.show(ALPHA, "kinds").await;
    assert_eq!(provider["exports"], json!([KINDS]));
    assert_eq!(provider["http"], false);
    assert!(
        provider["versions"][0]["metrics"]["calls"]
            .as_u64()
            .unwrap()
            >= 11
    );
    // A deployment without an HTTP handler is not on the ingress.
    let (status, body) = wharf.get("/kinds").await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("has no HTTP handler"), "{body}");
    wharf.stop().await;
}

fn everything() -> Value {
    json!({
        "b": true, "tiny": -128, "byte": 255, "short": -32768, "ushort": 65535,
        "int": -2147483648i64, "uint": 4294967295u64,
        "long": "-9223372036854775808", "ulong": "18446744073709551615",
        "single": 1.5, "double": -2.25e300, "c": "⚓", "s": "ünïcødé ✓",
        "nums": [1, 2, 3], "bytes": [0, 255], "pair": ["pair", "1152921504606846976"],
        "p": { "x": -3, "y": 4, "label": "p" },
        "sh": { "rect": { "x": 2, "y": 5, "label": "r" } },
        "col": "blue", "fl": ["read", "exec"],
        "maybe": null, "nested": { "some": null },
        "res": { "err": "bad" }, "unit": { "ok": null }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_json_gateway_round_trips_and_describes() {
    let wharf = Wharf::start().await;
    wharf.deploy(ALPHA, "kinds", guests::KINDS_V1, None).await;
    let (status, back) = rpc(
        &wharf,
        Some(ALPHA),
        "kinds/values/echo",
        json!({ "v": everything() }),
    )
    .await;
    assert_eq!(status, 200, "{back}");
    assert_eq!(
        back,
        everything(),
        "64-bit integers and every other kind survive the round trip"
    );
    // 64-bit numbers may also be sent as JSON numbers; results are strings.
    let (_, sum) = rpc(
        &wharf,
        Some(ALPHA),
        "kinds/values/add",
        json!({ "a": "18446744073709551614", "b": 1 }),
    )
    .await;
    assert_eq!(sum, json!("18446744073709551615"));
    let full = format!("kinds/{KINDS}/twice");
    assert_eq!(
        rpc(&wharf, Some(ALPHA), &full, json!({ "x": "-21" }))
            .await
            .1,
        json!("-42")
    );
    assert_eq!(
        rpc(
            &wharf,
            Some(ALPHA),
            "kinds/values/twice",
            json!({ "x": null })
        )
        .await
        .1,
        Value::Null
    );
    assert_eq!(
        rpc(&wharf, Some(ALPHA), "kinds/values/twice", json!({}))
            .await
            .1,
        Value::Null
    );
    let (_, area) = rpc(
        &wharf,
        Some(ALPHA),
        "kinds/values/area",
        json!({ "s": { "circle": 1.0 } }),
    )
    .await;
    assert!((area.as_f64().unwrap() - std::f64::consts::PI).abs() < 1e-12);
    assert_eq!(
        rpc(
            &wharf,
            Some(ALPHA),
            "kinds/values/area",
            json!({ "s": "empty" })
        )
        .await
        .1,
        json!(0.0)
    );
    assert_eq!(
        rpc(
            &wharf,
            Some(ALPHA),
            "kinds/values/names",
            json!({ "c": "green", "f": ["write", "exec"] })
        )
        .await
        .1,
        json!(["green", "write", "exec"])
    );
    assert_eq!(
        rpc(
            &wharf,
            Some(ALPHA),
            "kinds/values/divide",
            json!({ "a": 1, "b": 0 })
        )
        .await
        .1,
        json!({ "err": "cannot divide 1 by 0" })
    );
    assert_eq!(
        rpc(
            &wharf,
            Some(ALPHA),
            "kinds/values/divide",
            json!({ "a": 7, "b": 2 })
        )
        .await
        .1,
        json!({ "ok": 3 })
    );
    assert_eq!(
        rpc(&wharf, Some(ALPHA), "kinds/values/nothing", json!({})).await,
        (200, Value::Null)
    );

    // Mismatches name the JSON path and the expected type.
    let mut bad = everything();
    bad["p"]["x"] = json!("three");
    let cases = [
        (
            "kinds/values/echo",
            json!({ "v": bad }),
            400,
            "$.v.p.x",
            "s32",
        ),
        (
            "kinds/values/add",
            json!({ "a": 1 }),
            400,
            "argument `b`",
            "u64",
        ),
        (
            "kinds/values/add",
            json!({ "a": 1, "b": 2, "c": 3 }),
            400,
            "$.c",
            "unknown argument",
        ),
        (
            "kinds/values/add",
            json!({ "a": -1, "b": 2 }),
            400,
            "$.a",
            "u64",
        ),
        (
            "kinds/values/names",
            json!({ "c": "purple", "f": [] }),
            400,
            "$.c",
            "enum",
        ),
        (
            "kinds/values/names",
            json!({ "c": "red", "f": ["fly"] }),
            400,
            "$.f[0]",
            "flags",
        ),
        (
            "kinds/values/area",
            json!({ "s": { "square": 1 } }),
            400,
            "$.s",
            "variant",
        ),
        (
            "kinds/values/nope",
            json!({}),
            404,
            "no function `nope`",
            "add",
        ),
        (
            "kinds/other/add",
            json!({}),
            404,
            "no interface `other`",
            KINDS,
        ),
    ];
    for (path, body, status, at, expected) in cases {
        let (got, reply) = rpc(&wharf, Some(ALPHA), path, body).await;
        assert_eq!(got, status, "{path}: {reply}");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(at) && message.contains(expected),
            "{path}: {message}"
        );
    }
    let r = wharf
        .http
        .post(format!("{}/rpc/kinds/values/add", wharf.base))
        .bearer_auth(ALPHA)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_json"
    );

    // The same auth as the admin API, unless the deployment says otherwise.
    let (status, reply) = rpc(&wharf, None, "kinds/values/add", json!({ "a": 1, "b": 2 })).await;
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );

    let description: Value = wharf
        .http
        .get(format!("{}/rpc/kinds", wharf.base))
        .bearer_auth(BETA)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(description["interfaces"][0]["name"], KINDS);
    let wit = description["wit"].as_str().unwrap();
    assert!(
        wit.contains("package wharf-test:kinds@0.1.0") && wit.contains("record point"),
        "{wit}"
    );
    let echo = description["interfaces"][0]["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "echo")
        .unwrap();
    assert_eq!(echo["params"]["required"], json!(["v"]));
    assert_eq!(
        echo["params"]["properties"]["v"]["properties"]["col"]["enum"],
        json!(["red", "green", "blue"])
    );
    assert_eq!(echo["call"], format!("POST /rpc/kinds/{KINDS}/echo"));

    wharf
        .deploy(
            ALPHA,
            "kinds",
            guests::KINDS_V1,
            Some(json!({ "exports": { "external": "public" } })),
        )
        .await;
    assert_eq!(
        rpc(&wharf, None, "kinds/values/add", json!({ "a": 1, "b": 2 })).await,
        (200, json!("3"))
    );
    wharf
        .deploy(
            ALPHA,
            "kinds",
            guests::KINDS_V1,
            Some(json!({ "exports": { "external": "none" } })),
        )
        .await;
    let (status, reply) = rpc(
        &wharf,
        Some(ALPHA),
        "kinds/values/add",
        json!({ "a": 1, "b": 2 }),
    )
    .await;
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (403, Some("not_exposed"))
    );
    wharf.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_swapped_under_calls_loses_none() {
    let wharf = Arc::new(Wharf::start().await);
    let (v1, v2) = wharf
        .two_versions(
            ALPHA,
            "kinds",
            guests::KINDS_V1,
            guests::KINDS_V2,
            "activate=false",
        )
        .await;
    wharf
        .deploy(BETA, "caller", guests::KINDS_CALLER, Some(calls(json!({}))))
        .await;

    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (wharf, stop) = (wharf.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut seen, mut failures, mut n) =
                    (std::collections::BTreeSet::new(), Vec::new(), 0);
                while !stop.load(Ordering::Relaxed) {
                    let (status, body) = wharf.get("/caller/version").await;
                    n += 1;
                    if status == 200 {
                        seen.insert(body);
                    } else {
                        failures.push(format!("{status} {body}"));
                    }
                }
                (seen, failures, n)
            })
        })
        .collect();
    for i in 0..10 {
        let target = if i % 2 == 0 { &v2 } else { &v1 };
        let (status, view) = wharf
            .admin(
                Method::POST,
                "/v1/deployments/kinds/activate",
                Some(ALPHA),
                Some(json!({ "version": target })),
            )
            .await;
        assert_eq!(status, 200, "{view}");
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let (status, _) = wharf
        .admin(
            Method::POST,
            "/v1/deployments/kinds/rollback",
            Some(ALPHA),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(60)).await;
    stop.store(true, Ordering::Relaxed);
    let mut seen = std::collections::BTreeSet::new();
    let mut total = 0;
    for w in workers {
        let (s, failures, n) = w.await.unwrap();
        assert!(
            failures.is_empty(),
            "calls failed during swaps: {failures:?}"
        );
        seen.extend(s);
        total += n;
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["v1", "v2"],
        "{total} calls"
    );
    assert!(total > 200, "only {total} calls");
    // The caller was never redeployed.
    assert_eq!(wharf.show(BETA, "caller").await["swaps"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_in_providers_come_back_as_errors_and_cycles_stop() {
    let wharf = Wharf::start().await;
    wharf
        .deploy(
            ALPHA,
            "kinds",
            guests::KINDS_V1,
            Some(json!({ "limits": { "timeout": "500ms" } })),
        )
        .await;
    wharf
        .deploy(
            BETA,
            "caller",
            guests::KINDS_CALLER,
            Some(calls(json!({ "limits": { "timeout": "20s" } }))),
        )
        .await;

    // A trap in the provider is an error value the caller handles.
    let (status, body) = wharf.get("/caller/boom").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("handled: the component trapped"), "{body}");
    assert_eq!(
        wharf.get("/caller/roundtrip").await.0,
        200,
        "the caller lives on"
    );
    // The provider's own timeout.
    let t = Instant::now();
    let (status, body) = wharf.get("/caller/slow?ms=5000").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("timeout of 500ms"), "{body}");
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());

    // The caller's deadline carries into the provider.
    wharf
        .deploy(
            ALPHA,
            "kinds",
            guests::KINDS_V1,
            Some(json!({ "limits": { "timeout": "30s" } })),
        )
        .await;
    wharf
        .deploy(
            BETA,
            "caller",
            guests::KINDS_CALLER,
            Some(calls(json!({ "limits": { "timeout": "1s" } }))),
        )
        .await;
    let t = Instant::now();
    let (status, body) = wharf.get("/caller/slow?ms=10000").await;
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "the provider ran past the caller's deadline: {:?}",
        t.elapsed()
    );
    assert!(status == 504 || body.contains("timeout"), "{status} {body}");
    let logs = wharf.logs(ALPHA, "kinds").await;
    assert!(logs.iter().any(|l| l.contains("(timeout)")), "{logs:?}");

    // A cycle (relay calls itself) ends at the depth limit with an error.
    let relay =
        json!({ "grants": { "calls": ["wharf-test:relay/hop@0.1.0"] }, "allow_unresolved": true });
    wharf
        .deploy(ALPHA, "relay", guests::RELAY, Some(relay))
        .await;
    let (status, reply) = rpc(&wharf, Some(ALPHA), "relay/hop/hop", json!({ "n": 0 })).await;
    assert_eq!(status, 200, "{reply}");
    let err = reply["err"].as_str().unwrap();
    assert!(err.starts_with("hop 0: hop 1: hop 2"), "{err}");
    assert!(err.contains("call depth limit of 8"), "{err}");
    wharf.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn imports_are_checked_at_deploy_and_resolved_at_call_time() {
    let wharf = Wharf::start().await;
    // No provider yet.
    let (status, body) = wharf
        .upload(
            BETA,
            "caller",
            guests::bytes(guests::KINDS_CALLER),
            "",
            Some(calls(json!({}))),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("unresolved_import")),
        "{body}"
    );
    assert!(body["error"]["message"].as_str().unwrap().contains(KINDS));
    // No grant.
    wharf
        .deploy(ALPHA, "kinds", guests::KINDS_BROKEN, None)
        .await;
    let (status, body) = wharf
        .upload(
            BETA,
            "caller",
            guests::bytes(guests::KINDS_CALLER),
            "",
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("not_granted")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("calls = [")
    );
    // A provider with another type.
    let (status, body) = wharf
        .upload(
            BETA,
            "caller",
            guests::bytes(guests::KINDS_CALLER),
            "",
            Some(calls(json!({}))),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("incompatible_import")),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`kinds`") && message.contains("wharf-test:kinds/values@0.1.0#"),
        "{message}"
    );
    // Resources cannot cross deployments.
    let (status, body) = wharf
        .upload(ALPHA, "res", guests::bytes(guests::RESOURCEFUL), "", None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("resource_in_interface")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("wharf-test:res/counters")
    );

    // Allowed to start unresolved: calls fail clearly until a provider comes.
    wharf
        .admin(Method::DELETE, "/v1/deployments/kinds", Some(ALPHA), None)
        .await;
    wharf
        .deploy(
            BETA,
            "caller",
            guests::KINDS_CALLER,
            Some(calls(json!({ "allow_unresolved": true }))),
        )
        .await;
    let (status, body) = wharf.get("/caller/version").await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("no deployment provides `wharf-test:kinds/values@0.1.0`"),
        "{body}"
    );
    assert_eq!(
        wharf.get("/caller/boom").await.1,
        "handled: no deployment provides `wharf-test:kinds/values@0.1.0` right now\n"
    );
    wharf.deploy(ALPHA, "kinds", guests::KINDS_V2, None).await;
    assert_eq!(wharf.get("/caller/version").await.1, "v2");

    // A provider can say who may call it.
    wharf
        .deploy(
            ALPHA,
            "kinds",
            guests::KINDS_V2,
            Some(json!({ "exports": { "callers": ["someone-else"] } })),
        )
        .await;
    let (status, body) = wharf.get("/caller/version").await;
    assert_eq!(status, 500);
    assert!(
        body.contains("does not allow calls from `caller`"),
        "{body}"
    );
    let (status, body) = wharf
        .upload(
            BETA,
            "other",
            guests::bytes(guests::KINDS_CALLER),
            "",
            Some(calls(json!({}))),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not allow calls from `other`"),
        "{body}"
    );
    wharf.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_calls_and_prints_wit() {
    let wharf = Wharf::start().await;
    wharf.deploy(ALPHA, "kinds", guests::KINDS_V1, None).await;
    let admin = wharf.admin.clone();
    let (ok, out, err) = cli(
        &admin,
        &["call", "kinds", "values.add", r#"{"a": 2, "b": 3}"#],
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "\"5\"");
    let divide = format!("{KINDS}.divide");
    let (ok, out, err) = cli(&admin, &["call", "kinds", &divide, r#"{"a": 2, "b": 0}"#]).await;
    assert!(ok, "{err}");
    assert!(out.contains("cannot divide 2 by 0"), "{out}");
    let (ok, _, err) = cli(&admin, &["call", "kinds", "values.add", r#"{"a": "x"}"#]).await;
    assert!(!ok && err.contains("$.a"), "{err}");
    let (ok, out, _) = cli(&admin, &["wit", "kinds"]).await;
    assert!(
        ok && out.contains("interface values") && out.contains("variant shape"),
        "{out}"
    );
    let (ok, out, _) = cli(&admin, &["wit"]).await;
    assert!(
        ok && out.contains("package wharf:host@0.1.0") && out.contains("world service"),
        "{out}"
    );
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = cli(
        "http://unused",
        &["wit", "--out", dir.path().to_str().unwrap()],
    )
    .await;
    assert!(ok, "{err}");
    assert!(dir.path().join("wharf.wit").is_file());
    assert!(dir.path().join("deps/http/http.wit").is_file());
    wharf.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shop_example_works_end_to_end() {
    let wharf = Arc::new(Wharf::start().await);
    let kv = json!({ "grants": { "keyvalue": true } });
    wharf
        .deploy(ALPHA, "catalog", guests::CATALOG, Some(kv.clone()))
        .await;
    wharf
        .deploy(BETA, "cart", guests::CART, Some(kv.clone()))
        .await;
    wharf
        .deploy(
            ALPHA,
            "checkout",
            guests::CHECKOUT,
            Some(json!({ "grants": { "keyvalue": true, "calls": ["example:catalog/items@0.1.0", "example:cart/cart@0.1.0"] } })),
        )
        .await;
    for (id, name, price) in [("apple", "Apple", 120), ("pear", "Pear", 250)] {
        let (status, reply) = rpc(
            &wharf,
            Some(ALPHA),
            "catalog/items/put",
            json!({ "item": { "id": id, "name": name, "price-cents": price } }),
        )
        .await;
        assert_eq!((status, reply), (200, json!({ "ok": null })));
    }
    let items: Value = serde_json::from_str(&wharf.get("/checkout/items").await.1).unwrap();
    assert_eq!(
        items[1],
        json!({ "id": "pear", "name": "Pear", "price_cents": 250 })
    );
    assert_eq!(
        wharf
            .request(Method::POST, "/checkout/cart/ann/apple?qty=3", vec![])
            .await
            .0,
        200
    );
    assert_eq!(
        wharf
            .request(Method::POST, "/checkout/cart/ann/pear", vec![])
            .await
            .0,
        200
    );
    let (status, _) = wharf
        .request(Method::POST, "/checkout/cart/ann/durian", vec![])
        .await;
    assert_eq!(status, 404);
    let cart: Value = serde_json::from_str(&wharf.get("/checkout/cart/ann").await.1).unwrap();
    assert_eq!(cart["total_cents"], 3 * 120 + 250);

    // Over the JSON gateway, as another team's program would.
    let (status, receipt) = rpc(
        &wharf,
        Some(BETA),
        "checkout/orders/place",
        json!({ "user": "ann" }),
    )
    .await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["ok"]["order"], "1");
    assert_eq!(receipt["ok"]["total-cents"], "610");
    let (_, again) = rpc(
        &wharf,
        Some(BETA),
        "checkout/orders/place",
        json!({ "user": "ann" }),
    )
    .await;
    assert_eq!(again, json!({ "err": "the cart of `ann` is empty" }));

    // Hot-swap the catalog to its sale version while shoppers keep going.
    wharf
        .request(Method::POST, "/checkout/cart/bob/pear?qty=2", vec![])
        .await;
    let stop = Arc::new(AtomicBool::new(false));
    let shopper = {
        let (wharf, stop) = (wharf.clone(), stop.clone());
        tokio::spawn(async move {
            let mut totals = std::collections::BTreeSet::new();
            while !stop.load(Ordering::Relaxed) {
                let (status, body) = wharf.get("/checkout/cart/bob").await;
                assert_eq!(status, 200, "{body}");
                let cart: Value = serde_json::from_str(&body).unwrap();
                totals.insert(cart["total_cents"].as_u64().unwrap());
            }
            totals
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    wharf
        .deploy(ALPHA, "catalog", guests::CATALOG_SALE, None)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let totals: Vec<u64> = shopper.await.unwrap().into_iter().collect();
    assert_eq!(
        totals,
        [400, 500],
        "prices before and after the swap, nothing else"
    );
    assert_eq!(
        wharf.show(ALPHA, "checkout").await["swaps"],
        1,
        "checkout was not redeployed"
    );
}
