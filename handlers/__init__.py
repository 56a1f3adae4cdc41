"""The conversation, written once for every channel.

A flow takes what a person did (a command, a choice, typed text, a file) and returns what to
show (`Say`: text, choices, a file) and the next step, which is kept in the database. It knows
nothing of Telegram or Zalo: the adapters in bot/telegram and bot/zalo render its answers.
"""
