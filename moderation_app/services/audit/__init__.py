"""The audit log: appending to the hash chain, verifying it, signed checkpoints, exports."""
