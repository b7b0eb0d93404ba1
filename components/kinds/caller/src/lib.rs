//! Calls `wharf-test:kinds/values` (whatever deployment provides it) and
//! reports over HTTP:
//!
//! - `/roundtrip`: every function with values of every kind; `ok` if all
//!   came back as expected, otherwise what differed;
//! - `/version`: which provider build answered;
//! - `/boom`: calls a function that traps in the provider and reports the
//!   error it got back;
//! - `/slow?ms=N`: a call that takes N ms in the provider;
//! - `/add?a=&b=`: one call.

mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "wharf-test:kinds/caller",
        additional_derives: [PartialEq],
    });
}

use bindings::wharf_test::kinds::values::{self, Color, Everything, Perms, Point, Shape};
use guest_util::{Request, respond};

struct Caller;

fn sample() -> Everything {
    Everything {
        b: true,
        tiny: i8::MIN,
        byte: u8::MAX,
        short: i16::MIN,
        ushort: u16::MAX,
        int: i32::MIN,
        uint: u32::MAX,
        long: i64::MIN,
        ulong: u64::MAX,
        single: 1.5,
        double: -2.25e300,
        c: '⚓',
        s: "ünïcødé ✓".into(),
        nums: vec![1, 2, 3, u32::MAX],
        bytes: vec![0, 255, 7],
        pair: ("pair".into(), 1 << 60),
        p: Point { x: -3, y: 4, label: "p".into() },
        sh: Shape::Rect(Point { x: 2, y: 5, label: "r".into() }),
        col: Color::Blue,
        fl: Perms::READ | Perms::EXEC,
        maybe: None,
        nested: Some(None),
        res: Err("bad".into()),
        unit: Ok(()),
    }
}

fn roundtrip() -> Result<(), String> {
    let v = sample();
    let back = values::echo(&v);
    if back != v {
        return Err(format!("echo changed the value: {back:?}"));
    }
    let checks = [
        (values::add(u64::MAX - 1, 1) == u64::MAX, "add"),
        ((values::area(&Shape::Circle(1.0)) - std::f64::consts::PI).abs() < 1e-12, "area circle"),
        (values::area(&Shape::Empty) == 0.0, "area empty"),
        (values::names(Color::Green, Perms::WRITE | Perms::EXEC) == ["green", "write", "exec"], "names"),
        (values::twice(Some(-21)) == Some(-42), "twice some"),
        (values::twice(None).is_none(), "twice none"),
        (values::divide(7, 2) == Ok(3), "divide ok"),
        (values::divide(1, 0) == Err("cannot divide 1 by 0".into()), "divide err"),
    ];
    for (ok, name) in checks {
        if !ok {
            return Err(format!("{name} came back wrong"));
        }
    }
    values::nothing();
    Ok(())
}

impl wasip2::exports::http::incoming_handler::Guest for Caller {
    fn handle(request: wasip2::http::types::IncomingRequest, out: wasip2::http::types::ResponseOutparam) {
        let request = Request::new(request);
        match request.path.as_str() {
            "/roundtrip" => match roundtrip() {
                Ok(()) => respond(out, 200, "ok\n"),
                Err(e) => respond(out, 500, format!("{e}\n")),
            },
            "/version" => respond(out, 200, values::version()),
            "/boom" => match values::boom() {
                Ok(v) => respond(out, 200, format!("unexpected ok: {v}\n")),
                Err(e) => respond(out, 200, format!("handled: {e}\n")),
            },
            "/slow" => match values::slow(request.number("ms", 100) as u32) {
                Ok(v) => respond(out, 200, v),
                Err(e) => respond(out, 200, format!("handled: {e}\n")),
            },
            "/add" => respond(out, 200, values::add(request.number("a", 0), request.number("b", 0)).to_string()),
            _ => respond(out, 404, "unknown route\n"),
        }
    }
}

wasip2::http::proxy::export!(Caller);
