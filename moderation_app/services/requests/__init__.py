"""A deletion request's life: filing and answering (sellers), claims, decisions, its timeline."""
