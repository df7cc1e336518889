"""Shipped lookup tables: one folder per table (see nasbench_suite.tablefile for the format).

This is a package only so that the tables install with nasbench_suite, editable or as a wheel;
find them with ``nasbench_suite.load_table(name)``.
"""
