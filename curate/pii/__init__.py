"""Finding personal data in text: e-mail and IP addresses, phone, payment card and IBAN numbers.

``patterns`` holds the candidate regular expressions, ``checks`` decides which
candidates are personal data (checksums, documentation ranges, version numbers),
``detect`` runs both over a whole batch and ``redact`` writes the replacements.
The ``pii`` stage (``curate.stages.pii``) puts them together.
"""

from curate.pii.detect import KINDS, Detector, Spans

__all__ = ["KINDS", "Detector", "Spans"]
