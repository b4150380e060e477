//! A kubectl line as an LLM or a person proposes it, through the parser and the pure
//! safety layers (1-3, and 5 with an allowlist). Properties of every accepted line: its
//! action is a registered read and no mutating verb; it holds no shell metacharacter,
//! nor does any part of the command; layer 4 only ever asks for `get` / `list`; Secrets
//! are never printed with values; printing the command and parsing it again gives the
//! same command; layer 5 never lets a read leave the allowlisted namespace.
#![no_main]

use aetherius_core::{
    kubectl,
    safety::{self, ClusterAccess, READ_ACTIONS, has_shell_metacharacters, registry::MUTATING_ACTIONS},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    let Ok(cmd) = kubectl::parse(line, "fuzz") else { return };
    assert_eq!(cmd.tool, "kubectl");
    assert!(!has_shell_metacharacters(line.trim()), "parsed a line holding a shell metacharacter: {line:?}");
    if safety::check(&cmd).is_err() {
        return;
    }

    // Layers 1-3 accepted it.
    assert!(READ_ACTIONS.contains(&cmd.action.as_str()), "accepted action {:?}", cmd.action);
    assert!(!MUTATING_ACTIONS.contains(&cmd.action.as_str()), "accepted mutating action {:?}", cmd.action);
    let parts = cmd.args.iter().chain(cmd.flags.keys()).chain(cmd.flags.values()).chain(cmd.namespace.iter());
    for part in parts {
        assert!(!has_shell_metacharacters(part), "accepted {part:?} in {line:?}");
    }
    let reviews = safety::rbac_attributes(&cmd);
    assert!(!reviews.is_empty(), "an accepted command asks layer 4 nothing: {line:?}");
    for r in &reviews {
        assert!(matches!(r.verb.as_str(), "get" | "list"), "layer 4 asked for {:?}: {line:?}", r.verb);
    }
    if cmd.resource().is_some_and(|r| r.plural == "secrets") {
        assert!(cmd.flag("output").is_none_or(|o| o == "name" || o == "wide"), "Secret values printed: {line:?}");
    }
    let printed = cmd.to_string();
    let again = kubectl::parse(&printed, "fuzz").unwrap_or_else(|r| panic!("{line:?} prints as {printed:?}, refused: {r}"));
    assert_eq!(again, cmd, "{line:?} prints as {printed:?}, which parses differently");

    // Layer 5 with an allowlist of one namespace.
    let access = ClusterAccess::default().with("fuzz", &["shop"]);
    if safety::check_with_access(&cmd, &access).is_ok() {
        assert_ne!(cmd.flag("all-namespaces"), Some("true"), "all namespaces passed an allowlist: {line:?}");
        assert!(cmd.namespace.as_deref().is_none_or(|ns| ns == "shop"), "left the allowlist: {line:?}");
        for r in &reviews {
            assert!(r.namespace.as_deref().is_none_or(|ns| ns == "shop"), "layer 4 asked outside the allowlist: {line:?}");
        }
    }
});
