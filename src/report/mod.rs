//! Stage `report`: not built yet.
