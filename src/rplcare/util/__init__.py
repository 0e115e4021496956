"""Small shared helpers with no clinical content."""
