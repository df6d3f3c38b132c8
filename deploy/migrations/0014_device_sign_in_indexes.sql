-- Issue 18: a sign-in counts the accounts signed in on the same physical device (devices of one
-- fingerprint print with live sessions); these keep that lookup an index scan at any size.
CREATE INDEX devices_print ON identity.devices (print_id) WHERE unbound_at IS NULL;
CREATE INDEX sessions_device ON identity.sessions (device_id) WHERE revoked_at IS NULL;
