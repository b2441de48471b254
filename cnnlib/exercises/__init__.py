"""Automatic checkers for the book's exercises, one module per chapter.

Use them from a notebook::

    from cnnlib.exercises import ch03
    ch03.check_conv_backward(my_conv_backward)

A checker calls your function on a few cases, prints a verdict (which case failed,
and by how much) and returns True or False. It never raises because of your answer:
a wrong shape, a wrong type, an exception inside your function or an unfinished stub
(one that returns None) are all reported in plain words.

The chapter modules are imported on demand (``from cnnlib.exercises import ch02``),
so importing this package costs nothing.
"""
