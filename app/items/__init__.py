"""Items: a small catalogue with exact prices."""
