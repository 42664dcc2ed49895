"""Filing, answering and withdrawing; claims; decisions; the timeline (services/requests)."""
