//! Wires the stages together: the only module that knows every stage.
