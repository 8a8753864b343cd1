"""``insert_path`` and ``append_dep``: a new entry sits beside its siblings, and comments
stay with the entries they were written beside (issue 11: re-added entries went to the
end of the list without their comments)."""

from __future__ import annotations

from sdfgen.sdf.document import append_dep, dump_document, insert_path, parse_document

TEXT = """\
package: foo

slices:
  libs:
    deps:
      - glibc_libs  # why
      # note about contents
    contents:
      common:
        /a:  # eol a
        # about b
        /b:

  # the copyright
  copyright:
    contents:
      common:
        /lic:
"""


def test_insert_after_a_sibling_keeps_comments_in_place() -> None:
    doc = parse_document(TEXT)
    assert insert_path(doc, "libs", "/a2", after="/a", comment="new in 2")
    assert insert_path(doc, "libs", "/b2", after="/b")
    assert not insert_path(doc, "libs", "/a2", after="/a")
    assert append_dep(doc, "libs", "zlib_libs", "libfoo NEEDED libz.so.1")
    assert append_dep(doc, "copyright", "foo_x", "shared")
    assert dump_document(doc) == """\
package: foo

slices:
  libs:
    deps:
      - glibc_libs  # why
      - zlib_libs  # libfoo NEEDED libz.so.1
      # note about contents
    contents:
      common:
        /a:  # eol a
        /a2:  # new in 2
        # about b
        /b:
        /b2:

  # the copyright
  copyright:
    deps:
      - foo_x  # shared
    contents:
      common:
        /lic:
"""
