//! The keys of the counters table, from the names the domain gives its
//! counters: each kind has its prefix, which keeps the kinds apart in the
//! one table and is what the IAM policies bind to (login and admin may
//! delete `LOCK#*` items only).

/// A sign-in lockout counter.
pub fn lockout(name: &str) -> String {
    format!("LOCK#{name}")
}

/// A fixed-window rate-limit counter.
pub fn rate_window(name: &str) -> String {
    format!("RL#{name}")
}

/// A recharge velocity counter.
pub fn velocity(name: &str) -> String {
    format!("VEL#{name}")
}

/// The velocity counter a stored key names, if it is one.
pub fn velocity_name(key: &str) -> Option<&str> {
    key.strip_prefix("VEL#")
}

/// The set of accounts seen on the device with hash `device_hash`.
pub fn device_accounts(device_hash: &str) -> String {
    format!("DEVACC#{device_hash}")
}

/// Whether a stored key is a device's account set.
pub fn is_device_accounts(key: &str) -> bool {
    key.starts_with("DEVACC#")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_prefix_and_velocity_names_round_trip() {
        assert_eq!(lockout("abc"), "LOCK#abc");
        assert_eq!(rate_window("auth#1.2.3.4#7"), "RL#auth#1.2.3.4#7");
        assert_eq!(device_accounts("h"), "DEVACC#h");
        let stored = velocity("user#u1#D#3");
        assert_eq!(stored, "VEL#user#u1#D#3");
        assert_eq!(velocity_name(&stored), Some("user#u1#D#3"));
        assert_eq!(velocity_name(&device_accounts("h")), None);
        assert!(is_device_accounts(&device_accounts("h")));
        assert!(!is_device_accounts(&velocity("device#h#D#3")));
    }
}
