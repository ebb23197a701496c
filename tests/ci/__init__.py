"""Tests that tie the GitHub Actions workflows (.github/) to the project and to offline linters."""
