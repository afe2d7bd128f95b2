"""Golden question files: regression tests of answers (``bot check`` and the pytest plugin).

- :mod:`.names` says what counts as a golden file (cheap: the plugin asks it of every file);
- :mod:`.format` reads and validates the YAML files;
- :mod:`.expectations` checks an answer against a case;
- :mod:`.runner` builds or reuses the indexes and runs cases;
- :mod:`.baseline` records ranked evidence and reports drift;
- :mod:`.report` and :mod:`.junit` print the results for people, machines and CI.

Nothing is imported here: the pytest plugin loads in every pytest session, so each module is
imported only when a run needs it.
"""
