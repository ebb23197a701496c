"""The model recipe: everything a trained artifact refers to by module path."""
