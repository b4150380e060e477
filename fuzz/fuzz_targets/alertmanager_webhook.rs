//! `POST /webhook/alertmanager`'s body, read as the handler reads it: JSON into
//! `AlertmanagerPayload`, then `validate`, then one `StandardEvent` per alert.
//! Properties: an accepted payload re-serialises and parses back equal (and still
//! validates); standardising is deterministic and keeps the alert's identity; a refusal
//! names a field path.
#![no_main]

use aetherius_core::{AlertmanagerPayload, StandardEvent, alert::MAX_LABEL_VALUE_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<AlertmanagerPayload>(data) else { return };
    if let Err(e) = payload.validate() {
        assert!(!e.path.is_empty(), "a refusal names its field: {e}");
        return;
    }
    let json = serde_json::to_vec(&payload).expect("an accepted payload serialises");
    let again: AlertmanagerPayload = serde_json::from_slice(&json).expect("its own JSON parses");
    assert_eq!(again, payload, "re-serialised payload differs");
    again.validate().expect("the re-parsed payload still validates");

    for alert in &payload.alerts {
        assert!(!alert.alertname().trim().is_empty());
        assert!(alert.labels.values().all(|v| v.len() <= MAX_LABEL_VALUE_LEN));
        let a = StandardEvent::from_alertmanager(alert, "default");
        let b = StandardEvent::from_alertmanager(alert, "default");
        assert_eq!(a, b, "standardising is deterministic");
        assert_eq!(a.labels, alert.labels);
        assert_eq!(a.timestamp, alert.starts_at);
        assert!(!a.id.is_empty() && !a.fingerprint.is_empty() && !a.cluster_id.is_empty());
        let event_json = serde_json::to_string(&a).expect("an event serialises");
        let event: StandardEvent = serde_json::from_str(&event_json).expect("its own JSON parses");
        assert_eq!(event, a, "re-serialised event differs");
    }
});
