"""Business rules, grouped by area: accounts, requests/, queue/, evidence/, audit/, marketplace/.

Services take plain values (models, dataclasses, settings passed in), change the session but
never commit: the caller's one commit makes a change and its audit event land together. They
know nothing of HTTP or of Flask (no request, no links, no messages, no app config):
tests/test_architecture.py checks that.
"""
