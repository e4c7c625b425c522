"""What people read: the report page and its figures, the cross-model page and the docs' findings table."""
