"""Rules called directly, without HTTP, one folder per area of moderation_app/services."""
