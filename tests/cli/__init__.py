"""`flask …` commands through the CLI runner, as moderation_app/cli/."""
