"""The ``edgegrad`` command line, installed as the package ``edgegrad_cli``.

It holds no image math: it parses options, walks inputs, fans work out through
:mod:`edgegrad.batch`, renders results and sets the exit code.
"""
