//! The WebRTC endpoint's figures as metrics: connections, tracks and what is forwarded.

use std::sync::OnceLock;
use std::sync::atomic::Ordering;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

pub struct RtcMetrics {
    source: OnceLock<hms_rtc::StatsSource>,
    connections: Gauge,
    published_tracks: Gauge,
    forwarded_tracks: Gauge,
    paused_tracks: Gauge,
    forwarded_frames: Counter,
    forwarded_bytes: Counter,
}

impl RtcMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            source: OnceLock::new(),
            connections: Gauge::default(),
            published_tracks: Gauge::default(),
            forwarded_tracks: Gauge::default(),
            paused_tracks: Gauge::default(),
            forwarded_frames: Counter::default(),
            forwarded_bytes: Counter::default(),
        };
        let gauges = [
            (
                "hms_rtc_connections",
                "Open WebRTC peer connections of this node (publish and subscribe)",
                &metrics.connections,
            ),
            (
                "hms_rtc_published_tracks",
                "Tracks real peers publish through this node",
                &metrics.published_tracks,
            ),
            (
                "hms_rtc_forwarded_tracks",
                "Tracks being forwarded, counted once per subscriber",
                &metrics.forwarded_tracks,
            ),
            (
                "hms_rtc_paused_tracks",
                "Forwarded tracks their subscriber paused (a hidden video, a muted remote audio)",
                &metrics.paused_tracks,
            ),
        ];
        for (name, help, gauge) in gauges {
            registry.register(name, help, gauge.clone());
        }
        registry.register(
            "hms_rtc_forwarded_frames",
            "Media frames forwarded to subscribers",
            metrics.forwarded_frames.clone(),
        );
        registry.register_with_unit(
            "hms_rtc_forwarded",
            "Media payload forwarded to subscribers",
            Unit::Bytes,
            metrics.forwarded_bytes.clone(),
        );
        metrics
    }

    pub fn watch(&self, source: hms_rtc::StatsSource) {
        let _ = self.source.set(source);
    }

    /// Copies the endpoint's figures into the metrics, before they are encoded.
    pub fn refresh(&self) {
        let Some(source) = self.source.get() else {
            return;
        };
        let stats = source.read();
        let int = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        self.connections.set(int(stats.connections));
        self.published_tracks.set(int(stats.published_tracks));
        self.forwarded_tracks.set(int(stats.forwarded_tracks));
        self.paused_tracks.set(int(stats.paused_tracks));
        // The endpoint keeps the totals; the counters take them as they are.
        self.forwarded_frames
            .inner()
            .store(stats.forwarded_frames, Ordering::Relaxed);
        self.forwarded_bytes
            .inner()
            .store(stats.forwarded_bytes, Ordering::Relaxed);
    }
}
