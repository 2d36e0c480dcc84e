"""Jiangsu smart-factory guidelines (seed 003): the enterprise digital-transformation self-assessment
and the smart-factory tier check.

`selfassess` and `factory` are pure (the seed's tables and rules as data and functions); `load` reads
the YAML answer sheet, the factory declaration and the scenario catalogue; `cli` mounts the commands.
"""
