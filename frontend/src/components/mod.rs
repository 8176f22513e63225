//! The page's parts, each a small component.

pub mod chart;
pub mod controls;
pub mod drilldown;
mod figure;
pub mod loading;
pub mod marked_list;
pub mod marks;
pub mod metrics;
pub mod table;
pub mod view;
