# Text from the deployment file reaches the terminal through the error messages of the
# outputs' preconditions and through the warnings. Every line is shown as sxcloud's loader
# shows it (sxcloud/escape.py, `terminal`): each control, format or line-separator character
# as an escape (\x1b, \x07, \u202e), never raw, so a value cannot move the cursor, recolour
# the screen or plant a link (ESC, CSI, OSC 8) in the reader's terminal.

locals {
  # Lines with nothing to escape (nearly all) are kept as they are; the others are rebuilt a
  # character at a time from the generated table (a character the table lacks, from a newer
  # Unicode than the generator's, shows as U+FFFD).
  shown = {
    for kind, lines in {
      input    = local.input_problems
      aws      = local.aws_problems
      azure    = local.azure_problems
      warnings = concat(local.input_warnings, local.aws_warnings, local.azure_warnings)
      name     = [local.d.name]
      } : kind => [
      for line in lines : !can(regex(local.unsafe, line)) ? line : join("", [
        for c in split("", line) : lookup(local.schema.terminal_escapes, c, can(regex(local.unsafe, c)) ? "\ufffd" : c)
      ])
    ]
  }
}
