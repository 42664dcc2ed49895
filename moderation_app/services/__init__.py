"""Business rules, grouped by area: accounts, requests/, queue/, evidence/, audit/, marketplace/.

Services take plain values (models, dataclasses, settings passed in), change the session but
never commit: the caller's one commit makes a change and its audit event land together. They
know nothing of HTTP: no request, no url_for, no flash, no current_app.
"""
