# Text from the deployment file reaches the terminal through the error messages of the
# outputs' preconditions and through the warnings. Every line is shown as sxcloud's loader
# shows it (sxcloud/escape.py, `terminal`): each control, format or line-separator character
# as an escape (\x1b, \x07, \u202e), never raw, so a value cannot move the cursor, recolour
# the screen or plant a link (ESC, CSI, OSC 8) in the reader's terminal.

locals {
  # Lines with nothing to escape (nearly all) are kept as they are; the others are rebuilt,
  # each control or format character replaced by its escape: the character's number is its
  # offset in its run of the generated `terminal_ranges` (Terraform has no function that gives
  # it), and its text the one escape.terminal writes (a character no run holds, from a newer
  # Unicode than the generator's, shows as U+FFFD). Only a for-expression's `if`
  # skips work in HCL (both arms of a conditional are evaluated), so the lines to rebuild,
  # and in them the characters, are chosen with `if` and `regexall`.
  shown_lines = {
    input    = local.input_problems
    aws      = local.aws_problems
    azure    = local.azure_problems
    warnings = concat(local.input_warnings, local.aws_warnings, local.azure_warnings)
    name     = [local.d.name]
  }
  shown = {
    for kind, lines in local.shown_lines : kind => [
      for i, line in lines : lookup(local.shown_rebuilt[kind], tostring(i), line)
    ]
  }
  shown_rebuilt = {
    for kind, lines in local.shown_lines : kind => {
      for i, line in lines : tostring(i) => [
        for escapes in [{ for c in distinct(regexall(local.unsafe, line)) : c => try([
          for code in [for r in local.terminal_ranges : r.first + index(split("", r.chars), c) if strcontains(r.chars, c)] :
          code == 10 ? "\\n" : code == 13 ? "\\r" : code == 9 ? "\\t" : format(code < 256 ? "\\x%02x" : "\\u%04x", code)
        ][0], "\ufffd") }] :
        join("", [for c in split("", line) : lookup(escapes, c, c)])
      ][0] if can(regex(local.unsafe, line))
    }
  }
}
