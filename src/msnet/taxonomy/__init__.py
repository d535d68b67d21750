"""Controlled vocabularies as versioned data files: service types, themes, regions, countries, languages."""
