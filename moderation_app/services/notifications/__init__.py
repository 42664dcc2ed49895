"""E-mail to sellers through an outbox: `outbox` writes a row in the caller's transaction and
decides what is due, `messages` composes the e-mail, `smtp` hands it to a server. Delivery (one
commit per message) is run by `flask notifications send` (cli/notifications.py); see
docs/notifications.md."""
