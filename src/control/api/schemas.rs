//! JSON Schemas of fields whose allowed values are tables of the server (built-in role
//! names, Atlas action names) or rules of `validate.rs`, built from those same tables and
//! rules so that the OpenAPI document and the server cannot drift apart.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use utoipa::openapi::schema::{AnyOfBuilder, Object, ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use crate::authz::actions::NAMES;
use crate::authz::roles;
use crate::control::authz::{GroupRole, OrgRole};
use crate::control::model::atlas_action;

/// What `validate::text` refuses besides the length: control characters.
pub const NO_CONTROL: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$";

/// What `validate::name` refuses: control characters and `/`.
pub const NAME: &str = "^[^/\\u0000-\\u001f\\u007f-\\u009f]*$";

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// A role of either level, by its Atlas name.
pub trait RoleName {
    fn role_name(&self) -> &'static str;
}

/// An organization or project role in a request body: parsed with the role table's
/// `from_name`, and listed in the schema from the same table's `ALL`.
macro_rules! role_name_type {
    ($(#[$doc:meta])* $name:ident, $role:ty, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name(pub $role);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                <$role>::from_name(&s)
                    .map($name)
                    .ok_or_else(|| D::Error::custom(format!("{s:?} is not {}", $what)))
            }
        }

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                string()
                    .enum_values(Some(<$role>::ALL.iter().map(|r| r.name())))
                    .into()
            }
        }

        impl ToSchema for $name {}

        impl RoleName for $name {
            fn role_name(&self) -> &'static str {
                self.0.name()
            }
        }
    };
}

role_name_type!(
    /// `ORG_OWNER`, `ORG_MEMBER`, ...
    OrgRoleName, OrgRole, "an organization role"
);
role_name_type!(
    /// `GROUP_OWNER`, `GROUP_READ_ONLY`, ...
    GroupRoleName, GroupRole, "a project role"
);

/// A whole number where JSON Schema says `integer`: that includes `8.0`, which serde's
/// `i64` refuses.
pub fn whole<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        _ => Err(D::Error::custom(format!("{n} is not a whole number"))),
    }
}

/// [`whole`] for an optional field.
pub fn whole_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct W(#[serde(deserialize_with = "whole")] i64);
    Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
}

/// A name as `validate::name` checks it: 1 to 1024 characters, no control character, no `/`.
pub fn name() -> Object {
    string()
        .min_length(Some(1))
        .max_length(Some(1024))
        .pattern(Some(NAME))
        .build()
}

/// A database user's `databaseName`: mongoward serves SCRAM users, defined on `admin`.
pub fn admin_only() -> Object {
    string().enum_values(Some(["admin"])).build()
}

/// The mongod built-in roles the data plane knows (`authz::roles::ALL`).
fn builtin_roles() -> Object {
    string()
        .enum_values(Some(roles::ALL.iter().map(|r| r.name)))
        .build()
}

/// A role a database user holds or a custom role inherits: a built-in role, or the name of
/// a custom role of the project (which the server checks exists: 400 otherwise).
pub fn role_name() -> Schema {
    let any = AnyOfBuilder::new()
        .item(builtin_roles())
        .item(name())
        .description(Some(
            "A built-in role (listed), an Atlas alias of one, or a custom role of this project.",
        ))
        .build();
    Schema::AnyOf(any)
}

/// A new custom role's name: a name that is not a built-in role.
pub fn custom_role_name() -> Object {
    let mut o = name();
    o.description = Some("Any name but a built-in role's.".into());
    o
}

/// Atlas's upper-snake action names, from mongod's action table (`authz::actions::NAMES`),
/// the one `model::mongod_action` maps them back with.
pub fn atlas_actions() -> Object {
    let mut names: Vec<String> = NAMES.iter().map(|m| atlas_action(m)).collect();
    names.sort_unstable();
    string().enum_values(Some(names)).build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::api::validate;
    use crate::control::model::mongod_action;

    fn enum_of(o: &Object) -> Vec<String> {
        o.enum_values
            .iter()
            .flatten()
            .filter_map(|v| v.as_str().map(String::from))
            .collect()
    }

    #[test]
    fn every_listed_action_is_accepted() {
        let listed = enum_of(&atlas_actions());
        assert_eq!(listed.len(), NAMES.len());
        for a in &listed {
            assert!(mongod_action(a).is_some(), "{a}");
        }
    }

    #[test]
    fn every_listed_role_is_known() {
        for r in enum_of(&builtin_roles()) {
            assert!(roles::lookup_or_alias(&r).is_some(), "{r}");
        }
    }

    #[test]
    fn the_patterns_exclude_exactly_what_the_rules_call_control() {
        // NO_CONTROL and NAME exclude U+0000-U+001F and U+007F-U+009F: `char::is_control`.
        assert!(NO_CONTROL.contains("\\u0000-\\u001f\\u007f-\\u009f"));
        assert!(NAME.contains("\\u0000-\\u001f\\u007f-\\u009f"));
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let excluded = matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}');
            assert_eq!(c.is_control(), excluded, "{c:?}");
        }
        assert!(validate::name("f", "a/b").is_err());
    }
}
