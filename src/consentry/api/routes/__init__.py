"""Routes, one module per audience: health, people, licensees, operators."""
