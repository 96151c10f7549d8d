"""The floor every other layer stands on: settings, warehouse access, binary COPY and dates. Imports nothing above."""
