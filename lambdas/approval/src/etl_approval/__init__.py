"""Approval API Lambda: routes and error mapping in `app`, the reviewer's pages in `review_page`."""
