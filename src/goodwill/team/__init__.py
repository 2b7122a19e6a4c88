"""Staff, roles and (later) kudos."""
