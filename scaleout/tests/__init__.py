"""The twin's tests: PYTHONPATH=scaleout python -m unittest discover -s scaleout/tests -t scaleout"""
