//! WIT values ⇄ JSON, driven by the component's own type information.
//!
//! | WIT | JSON |
//! | --- | --- |
//! | `bool` | `true` / `false` |
//! | `u8`..`u32`, `s8`..`s32` | number |
//! | `u64`, `s64` | string of digits on output (no precision lost in any client); number or string on input |
//! | `f32`, `f64` | number; `"NaN"`, `"Infinity"`, `"-Infinity"` as strings |
//! | `char` | one-character string |
//! | `string` | string |
//! | `list<T>`, `tuple<..>` | array |
//! | `record` | object by field name |
//! | `variant` | `{"case": payload}` (`null` payload for cases without one); input also takes `"case"` |
//! | `enum` | string |
//! | `flags` | array of strings |
//! | `option<T>` | `null` or the value (an `option<option<T>>`'s inner `some` is `{"some": ..}`) |
//! | `result<T, E>` | `{"ok": ..}` or `{"err": ..}` |
//!
//! A mismatch names the JSON path (`$.items[2].qty`) and the expected type.

use serde_json::{Map, Number, Value, json};
use wharf_runtime::{Type, Val};

/// A value that does not fit its WIT type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// Where, e.g. `$.order.items[1]`.
    pub path: String,
    /// What was expected there.
    pub expected: String,
    /// What was found (or what else is wrong).
    pub found: String,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "at {}: expected {}, found {}",
            self.path, self.expected, self.found
        )
    }
}

fn kind(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.len() <= 40 => format!("the string {s:?}"),
        Value::String(_) => "a string".into(),
        Value::Array(a) => format!("an array of {}", a.len()),
        Value::Object(_) => "an object".into(),
    }
}

/// A short human name of a WIT type, for error messages.
pub fn type_name(ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::S8 => "s8".into(),
        Type::U8 => "u8".into(),
        Type::S16 => "s16".into(),
        Type::U16 => "u16".into(),
        Type::S32 => "s32".into(),
        Type::U32 => "u32".into(),
        Type::S64 => "s64 (a number or a string of digits)".into(),
        Type::U64 => "u64 (a number or a string of digits)".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Char => "char (a one-character string)".into(),
        Type::String => "string".into(),
        Type::List(l) => format!("list<{}>", type_name(&l.ty())),
        Type::Record(r) => format!(
            "record {{{}}}",
            r.fields()
                .map(|f| f.name.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Type::Tuple(t) => format!("tuple of {}", t.types().len()),
        Type::Variant(v) => format!(
            "variant (one of {})",
            v.cases()
                .map(|c| format!("{:?}", c.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Type::Enum(e) => format!(
            "enum (one of {})",
            e.names()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Type::Option(o) => format!("option<{}> (null or a value)", type_name(&o.ty())),
        Type::Result(_) => "result ({\"ok\": ..} or {\"err\": ..})".into(),
        Type::Flags(f) => format!(
            "flags (an array of {})",
            f.names()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Type::Map(_) => "map (an array of [key, value] pairs)".into(),
        Type::FixedLengthList(l) => format!("list of {} {}", l.len(), type_name(&l.ty())),
        _ => "a value Wharf cannot pass over JSON".into(),
    }
}

struct Walker {
    path: Vec<String>,
}

impl Walker {
    fn err(&self, ty: &Type, found: &Value) -> JsonError {
        JsonError {
            path: self.path_string(),
            expected: type_name(ty),
            found: kind(found),
        }
    }

    fn path_string(&self) -> String {
        let mut s = String::from("$");
        for p in &self.path {
            s.push_str(p);
        }
        s
    }

    fn nested<T>(
        &mut self,
        segment: String,
        f: impl FnOnce(&mut Self) -> Result<T, JsonError>,
    ) -> Result<T, JsonError> {
        self.path.push(segment);
        let out = f(self);
        self.path.pop();
        out
    }

    fn int<T: TryFrom<i128>>(
        &self,
        value: &Value,
        ty: &Type,
        strings: bool,
    ) -> Result<T, JsonError> {
        let wide: Option<i128> = match value {
            Value::Number(n) => n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from)),
            Value::String(s) if strings => s.trim().parse::<i128>().ok(),
            _ => None,
        };
        wide.and_then(|w| T::try_from(w).ok())
            .ok_or_else(|| self.err(ty, value))
    }

    fn float(&self, value: &Value, ty: &Type) -> Result<f64, JsonError> {
        match value {
            Value::Number(n) => n.as_f64().ok_or_else(|| self.err(ty, value)),
            Value::String(s) => match s.as_str() {
                "NaN" => Ok(f64::NAN),
                "Infinity" => Ok(f64::INFINITY),
                "-Infinity" => Ok(f64::NEG_INFINITY),
                _ => Err(self.err(ty, value)),
            },
            _ => Err(self.err(ty, value)),
        }
    }

    fn val(&mut self, value: &Value, ty: &Type) -> Result<Val, JsonError> {
        Ok(match ty {
            Type::Bool => Val::Bool(value.as_bool().ok_or_else(|| self.err(ty, value))?),
            Type::S8 => Val::S8(self.int(value, ty, false)?),
            Type::U8 => Val::U8(self.int(value, ty, false)?),
            Type::S16 => Val::S16(self.int(value, ty, false)?),
            Type::U16 => Val::U16(self.int(value, ty, false)?),
            Type::S32 => Val::S32(self.int(value, ty, false)?),
            Type::U32 => Val::U32(self.int(value, ty, false)?),
            Type::S64 => Val::S64(self.int(value, ty, true)?),
            Type::U64 => Val::U64(self.int(value, ty, true)?),
            Type::Float32 => Val::Float32(self.float(value, ty)? as f32),
            Type::Float64 => Val::Float64(self.float(value, ty)?),
            Type::Char => {
                let s = value.as_str().ok_or_else(|| self.err(ty, value))?;
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Val::Char(c),
                    _ => return Err(self.err(ty, value)),
                }
            }
            Type::String => Val::String(
                value
                    .as_str()
                    .ok_or_else(|| self.err(ty, value))?
                    .to_string(),
            ),
            Type::List(list) => {
                let items = value.as_array().ok_or_else(|| self.err(ty, value))?;
                let elem = list.ty();
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.nested(format!("[{i}]"), |w| w.val(item, &elem))?);
                }
                Val::List(out)
            }
            Type::FixedLengthList(list) => {
                let items = value.as_array().ok_or_else(|| self.err(ty, value))?;
                if items.len() != list.len() as usize {
                    return Err(self.err(ty, value));
                }
                let elem = list.ty();
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.nested(format!("[{i}]"), |w| w.val(item, &elem))?);
                }
                Val::FixedLengthList(out)
            }
            Type::Map(map) => {
                let pairs = value.as_array().ok_or_else(|| self.err(ty, value))?;
                let (kt, vt) = (map.key(), map.value());
                let mut out = Vec::with_capacity(pairs.len());
                for (i, pair) in pairs.iter().enumerate() {
                    let kv = pair
                        .as_array()
                        .filter(|a| a.len() == 2)
                        .ok_or_else(|| self.err(ty, value))?;
                    let k = self.nested(format!("[{i}][0]"), |w| w.val(&kv[0], &kt))?;
                    let v = self.nested(format!("[{i}][1]"), |w| w.val(&kv[1], &vt))?;
                    out.push((k, v));
                }
                Val::Map(out)
            }
            Type::Record(record) => {
                let object = value.as_object().ok_or_else(|| self.err(ty, value))?;
                let mut fields = Vec::new();
                for field in record.fields() {
                    let got = object.get(field.name);
                    let v = match (got, &field.ty) {
                        (Some(v), _) => {
                            self.nested(format!(".{}", field.name), |w| w.val(v, &field.ty))?
                        }
                        (None, Type::Option(_)) => Val::Option(None),
                        (None, _) => {
                            return Err(JsonError {
                                path: self.path_string(),
                                expected: format!(
                                    "field `{}` ({})",
                                    field.name,
                                    type_name(&field.ty)
                                ),
                                found: "no such field".into(),
                            });
                        }
                    };
                    fields.push((field.name.to_string(), v));
                }
                if let Some(extra) = object
                    .keys()
                    .find(|k| !record.fields().any(|f| f.name == k.as_str()))
                {
                    return Err(JsonError {
                        path: format!("{}.{extra}", self.path_string()),
                        expected: format!("only the fields of {}", type_name(ty)),
                        found: format!("an unknown field `{extra}`"),
                    });
                }
                Val::Record(fields)
            }
            Type::Tuple(tuple) => {
                let items = value.as_array().ok_or_else(|| self.err(ty, value))?;
                if items.len() != tuple.types().len() {
                    return Err(self.err(ty, value));
                }
                let mut out = Vec::with_capacity(items.len());
                for (i, (item, t)) in items.iter().zip(tuple.types()).enumerate() {
                    out.push(self.nested(format!("[{i}]"), |w| w.val(item, &t))?);
                }
                Val::Tuple(out)
            }
            Type::Variant(variant) => {
                let (case_name, payload) = match value {
                    Value::String(s) => (s.as_str(), None),
                    Value::Object(o) if o.len() == 1 => {
                        let (k, v) = o.iter().next().ok_or_else(|| self.err(ty, value))?;
                        (k.as_str(), Some(v))
                    }
                    _ => return Err(self.err(ty, value)),
                };
                let case = variant
                    .cases()
                    .find(|c| c.name == case_name)
                    .ok_or_else(|| self.err(ty, value))?;
                let payload = match (&case.ty, payload) {
                    (None, None | Some(Value::Null)) => None,
                    (Some(t), Some(p)) => Some(Box::new(
                        self.nested(format!(".{case_name}"), |w| w.val(p, t))?,
                    )),
                    _ => return Err(self.err(ty, value)),
                };
                Val::Variant(case_name.to_string(), payload)
            }
            Type::Enum(e) => {
                let s = value.as_str().ok_or_else(|| self.err(ty, value))?;
                if !e.names().any(|n| n == s) {
                    return Err(self.err(ty, value));
                }
                Val::Enum(s.to_string())
            }
            Type::Flags(flags) => {
                let items = value.as_array().ok_or_else(|| self.err(ty, value))?;
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let name = item.as_str().filter(|s| flags.names().any(|n| n == *s));
                    match name {
                        Some(n) if !out.iter().any(|o: &String| o == n) => out.push(n.to_string()),
                        Some(_) => {}
                        None => {
                            return Err(self.nested(format!("[{i}]"), |w| Err(w.err(ty, item)))?);
                        }
                    }
                }
                Val::Flags(out)
            }
            Type::Option(option) => {
                let inner = option.ty();
                match (value, &inner) {
                    (Value::Null, _) => Val::Option(None),
                    (Value::Object(o), Type::Option(_))
                        if o.len() == 1 && o.contains_key("some") =>
                    {
                        let v = &o["some"];
                        Val::Option(Some(Box::new(
                            self.nested(".some".into(), |w| w.val(v, &inner))?,
                        )))
                    }
                    (v, _) => Val::Option(Some(Box::new(self.val(v, &inner)?))),
                }
            }
            Type::Result(result) => {
                let object = value
                    .as_object()
                    .filter(|o| o.len() == 1)
                    .ok_or_else(|| self.err(ty, value))?;
                let (key, payload) = object.iter().next().ok_or_else(|| self.err(ty, value))?;
                let (arm, is_ok) = match key.as_str() {
                    "ok" => (result.ok(), true),
                    "err" => (result.err(), false),
                    _ => return Err(self.err(ty, value)),
                };
                let inner = match arm {
                    None if payload.is_null() => None,
                    None => return Err(self.err(ty, value)),
                    Some(t) => Some(Box::new(
                        self.nested(format!(".{key}"), |w| w.val(payload, &t))?,
                    )),
                };
                Val::Result(if is_ok { Ok(inner) } else { Err(inner) })
            }
            _ => return Err(self.err(ty, value)),
        })
    }
}

/// Converts named JSON arguments to the function's parameters, in order.
pub fn arguments(body: &Value, params: &[(String, Type)]) -> Result<Vec<Val>, JsonError> {
    let empty = Map::new();
    let object = match body {
        Value::Object(o) => o,
        Value::Null if params.is_empty() => &empty,
        other => {
            return Err(JsonError {
                path: "$".into(),
                expected: format!(
                    "an object of arguments by name ({})",
                    params
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                found: kind(other),
            });
        }
    };
    let mut walker = Walker { path: Vec::new() };
    let mut out = Vec::with_capacity(params.len());
    for (name, ty) in params {
        let value = match (object.get(name), ty) {
            (Some(v), _) => walker.nested(format!(".{name}"), |w| w.val(v, ty))?,
            (None, Type::Option(_)) => Val::Option(None),
            (None, _) => {
                return Err(JsonError {
                    path: "$".into(),
                    expected: format!("argument `{name}` ({})", type_name(ty)),
                    found: "no such argument".into(),
                });
            }
        };
        out.push(value);
    }
    if let Some(extra) = object.keys().find(|k| !params.iter().any(|(n, _)| n == *k)) {
        return Err(JsonError {
            path: format!("$.{extra}"),
            expected: format!(
                "only the arguments {}",
                params
                    .iter()
                    .map(|(n, _)| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            found: format!("an unknown argument `{extra}`"),
        });
    }
    Ok(out)
}

/// Converts one JSON value to a WIT value of type `ty` (`$` is the root).
pub fn from_json(value: &Value, ty: &Type) -> Result<Val, JsonError> {
    Walker { path: Vec::new() }.val(value, ty)
}

fn float(f: f64) -> Value {
    if f.is_nan() {
        json!("NaN")
    } else if f == f64::INFINITY {
        json!("Infinity")
    } else if f == f64::NEG_INFINITY {
        json!("-Infinity")
    } else {
        Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

/// Converts a WIT value to JSON.
pub fn to_json(value: &Val) -> Value {
    match value {
        Val::Bool(b) => json!(b),
        Val::S8(n) => json!(n),
        Val::U8(n) => json!(n),
        Val::S16(n) => json!(n),
        Val::U16(n) => json!(n),
        Val::S32(n) => json!(n),
        Val::U32(n) => json!(n),
        Val::S64(n) => json!(n.to_string()),
        Val::U64(n) => json!(n.to_string()),
        Val::Float32(f) => float(f64::from(*f)),
        Val::Float64(f) => float(*f),
        Val::Char(c) => json!(c.to_string()),
        Val::String(s) => json!(s),
        Val::List(items) | Val::Tuple(items) | Val::FixedLengthList(items) => {
            Value::Array(items.iter().map(to_json).collect())
        }
        Val::Map(pairs) => Value::Array(
            pairs
                .iter()
                .map(|(k, v)| json!([to_json(k), to_json(v)]))
                .collect(),
        ),
        Val::Record(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
        Val::Variant(case, payload) => {
            let mut m = Map::new();
            m.insert(
                case.clone(),
                payload.as_deref().map(to_json).unwrap_or(Value::Null),
            );
            Value::Object(m)
        }
        Val::Enum(e) => json!(e),
        Val::Flags(f) => json!(f),
        Val::Option(None) => Value::Null,
        Val::Option(Some(inner)) => match inner.as_ref() {
            Val::Option(_) => json!({ "some": to_json(inner) }),
            other => to_json(other),
        },
        Val::Result(Ok(v)) => json!({ "ok": v.as_deref().map(to_json).unwrap_or(Value::Null) }),
        Val::Result(Err(v)) => json!({ "err": v.as_deref().map(to_json).unwrap_or(Value::Null) }),
        _ => Value::Null,
    }
}

/// A JSON Schema (draft 2020-12) of the JSON form of `ty`.
pub fn schema(ty: &Type) -> Value {
    let int = |min: i128, max: i128| json!({ "type": "integer", "minimum": min, "maximum": max });
    match ty {
        Type::Bool => json!({ "type": "boolean" }),
        Type::S8 => int(i8::MIN.into(), i8::MAX.into()),
        Type::U8 => int(0, u8::MAX.into()),
        Type::S16 => int(i16::MIN.into(), i16::MAX.into()),
        Type::U16 => int(0, u16::MAX.into()),
        Type::S32 => int(i32::MIN.into(), i32::MAX.into()),
        Type::U32 => int(0, u32::MAX.into()),
        Type::S64 => {
            json!({ "type": ["string", "integer"], "pattern": "^-?[0-9]+$", "format": "int64" })
        }
        Type::U64 => {
            json!({ "type": ["string", "integer"], "pattern": "^[0-9]+$", "format": "uint64" })
        }
        Type::Float32 | Type::Float64 => json!({ "oneOf": [
            { "type": "number" },
            { "enum": ["NaN", "Infinity", "-Infinity"] }
        ] }),
        Type::Char => json!({ "type": "string", "minLength": 1, "maxLength": 1 }),
        Type::String => json!({ "type": "string" }),
        Type::List(l) => json!({ "type": "array", "items": schema(&l.ty()) }),
        Type::FixedLengthList(l) => {
            json!({ "type": "array", "items": schema(&l.ty()), "minItems": l.len(), "maxItems": l.len() })
        }
        Type::Map(m) => json!({ "type": "array", "items": {
            "type": "array", "prefixItems": [schema(&m.key()), schema(&m.value())], "minItems": 2, "maxItems": 2
        } }),
        Type::Record(r) => {
            let properties: Map<String, Value> = r
                .fields()
                .map(|f| (f.name.to_string(), schema(&f.ty)))
                .collect();
            let required: Vec<&str> = r
                .fields()
                .filter(|f| !matches!(f.ty, Type::Option(_)))
                .map(|f| f.name)
                .collect();
            json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false })
        }
        Type::Tuple(t) => {
            let items: Vec<Value> = t.types().map(|t| schema(&t)).collect();
            let n = items.len();
            json!({ "type": "array", "prefixItems": items, "minItems": n, "maxItems": n })
        }
        Type::Variant(v) => {
            let cases: Vec<Value> = v
                .cases()
                .map(|c| {
                    let payload = c.ty.as_ref().map(schema).unwrap_or(json!({ "type": "null" }));
                    json!({ "type": "object", "properties": { c.name: payload }, "required": [c.name], "additionalProperties": false })
                })
                .collect();
            json!({ "oneOf": cases })
        }
        Type::Enum(e) => json!({ "enum": e.names().collect::<Vec<_>>() }),
        Type::Flags(f) => {
            json!({ "type": "array", "items": { "enum": f.names().collect::<Vec<_>>() }, "uniqueItems": true })
        }
        Type::Option(o) => {
            let inner = o.ty();
            let some = match &inner {
                Type::Option(_) => {
                    json!({ "type": "object", "properties": { "some": schema(&inner) }, "required": ["some"] })
                }
                other => schema(other),
            };
            json!({ "oneOf": [{ "type": "null" }, some] })
        }
        Type::Result(r) => {
            let arm = |t: Option<Type>| t.as_ref().map(schema).unwrap_or(json!({ "type": "null" }));
            json!({ "oneOf": [
                { "type": "object", "properties": { "ok": arm(r.ok()) }, "required": ["ok"], "additionalProperties": false },
                { "type": "object", "properties": { "err": arm(r.err()) }, "required": ["err"], "additionalProperties": false }
            ] })
        }
        _ => json!(false),
    }
}
