"""Visible checks, one module per lesson, one function per exercise (named alike).

from backprop_course.checks import forward_pass as check
check.sigmoid(sigmoid)
"""
