"""Decisions reach the marketplace as signed webhooks, through an outbox: `events` composes each
decision's events in its transaction, `outbox` decides what is due (in order per review), records
attempts and a manager's retry, `signing` signs as the Standard Webhooks specification says,
`transport` POSTs one event, and `delivery.deliver_due` runs a round (called by
`flask webhooks send`, later by a job). See docs/webhooks.md."""
