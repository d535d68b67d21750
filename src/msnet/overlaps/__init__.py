"""Deconfliction: detection of overlapping requests, overlap cases, their messages and resolution."""
