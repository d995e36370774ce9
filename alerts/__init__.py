"""AMBER alerts: agencies, officers, alerts and their areas, CAP 1.2, subscribers, dispatch."""
