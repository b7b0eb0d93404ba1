// Shared by the `kinds-v1` and `kinds-v2` providers, which differ only in
// `VERSION`.

mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "wharf-test:kinds/provider",
    });
}

use bindings::exports::wharf_test::kinds::values::{Color, Everything, Guest, Perms, Shape};

struct Provider;

impl Guest for Provider {
    fn echo(v: Everything) -> Everything {
        v
    }

    fn add(a: u64, b: u64) -> u64 {
        a.wrapping_add(b)
    }

    fn area(s: Shape) -> f64 {
        match s {
            Shape::Circle(r) => std::f64::consts::PI * r * r,
            Shape::Rect(p) => f64::from(p.x) * f64::from(p.y),
            Shape::Empty => 0.0,
        }
    }

    fn names(c: Color, f: Perms) -> Vec<String> {
        let color = match c {
            Color::Red => "red",
            Color::Green => "green",
            Color::Blue => "blue",
        };
        let mut out = vec![color.to_string()];
        for (flag, name) in [(Perms::READ, "read"), (Perms::WRITE, "write"), (Perms::EXEC, "exec")] {
            if f.contains(flag) {
                out.push(name.to_string());
            }
        }
        out
    }

    fn twice(x: Option<i64>) -> Option<i64> {
        x.map(|x| x.wrapping_mul(2))
    }

    fn divide(a: i32, b: i32) -> Result<i32, String> {
        a.checked_div(b).ok_or_else(|| format!("cannot divide {a} by {b}"))
    }

    fn version() -> String {
        VERSION.to_string()
    }

    fn boom() -> Result<String, String> {
        core::arch::wasm32::unreachable()
    }

    fn slow(ms: u32) -> Result<String, String> {
        let until = std::time::Instant::now() + std::time::Duration::from_millis(u64::from(ms));
        while std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Ok(format!("waited {ms}ms"))
    }

    fn nothing() {}
}

bindings::export!(Provider with_types_in bindings);
