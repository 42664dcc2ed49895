"""The staff pages: the queue, claims and decisions (staff blueprint)."""
