"""Helpers the course's notebooks import: data sets (and, lesson by lesson, checks and widgets).

Nothing in here holds an exercise's answer.
"""
