"""Tests for geo/: pure geometry, no app and no database."""
